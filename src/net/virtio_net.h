/*
 * The virtio NICs, as the launcher sees them (the device is
 * src/virtio/net.c, the host side src/net/).
 *
 * Each call checks its argument, opens the backend and plugs one
 * virtio-net function into the bus, in the order of the calls: the guest
 * names them eth0, eth1, ... in that order.  A bad argument (or no
 * privilege for a TAP device) ends the launcher with one line, before the
 * guest runs.  The signatures match lguest.c's dev_add_fn.
 *
 *	--tunnet=IPADDR[,mac=MAC]	new TAP, host side IPADDR/24, up
 *	--tunnet=tap:NAME[,mac=MAC]	TAP device NAME as it is
 *	--tunnet=bridge:NAME[,mac=MAC]	new TAP, added to bridge NAME, up
 *	--sharenet=FILE[,mac=MAC][,promisc]
 *	--net=user[,hostfwd=tcp|udp:[HADDR]:HPORT-[GADDR]:GPORT]...[,mac=MAC]
 */
#ifndef LGUEST_NET_VIRTIO_NET_H
#define LGUEST_NET_VIRTIO_NET_H

#include <stddef.h>

#include "../hw/pci.h"
#include "../types.h"
#include "net.h"

struct virtio_net;

void virtio_net_add_tap(struct pci_bus *bus, const char *arg);
void virtio_net_add_sharenet(struct pci_bus *bus, const char *arg);
void virtio_net_add_user(struct pci_bus *bus, const char *arg);

/* The kernel argument that tells the guest its address for a --tunnet
 * value ("ip=<IPADDR+1>::<IPADDR>:255.255.255.0::eth0:off"), written into
 * buf.  False (buf untouched) for tap:/bridge: values, which say nothing
 * about addresses.  The launcher adds it when the user gave no ip=. */
bool virtio_net_tunnet_ip_arg(const char *arg, char *buf, size_t len);

/* A NIC on an already-open backend (tests; the calls above use it). */
struct virtio_net *virtio_net_new(struct pci_bus *bus, struct net_backend *nb);
/* Frames dropped so far because the guest had no fitting buffer, and
 * frames from the guest that were refused (too long, bad header). */
u64 virtio_net_rx_dropped(struct virtio_net *n);
u64 virtio_net_tx_dropped(struct virtio_net *n);

#endif
