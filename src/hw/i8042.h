/*
 * The i8042 keyboard controller at ports 0x60 and 0x64, as far as a guest
 * needs one: Linux's probe, A20, and the reset line (0xfe to port 0x64),
 * which ends the run as a reset (machine_reset()).  Port 0x92 (fast A20 and reset) is
 * here too.
 */
#ifndef LGUEST_HW_I8042_H
#define LGUEST_HW_I8042_H

#include "../machine.h"

struct i8042;

struct i8042 *i8042_new(struct machine *m);

#endif
