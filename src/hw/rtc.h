/*
 * The MC146818 CMOS real-time clock at ports 0x70 (index) and 0x71 (data),
 * on IRQ 8.  It tells the guest the host's time, in UTC.
 */
#ifndef LGUEST_HW_RTC_H
#define LGUEST_HW_RTC_H

#include "../machine.h"

struct rtc;

struct rtc *rtc_new(struct machine *m);

#endif
