/* MC146818 CMOS RTC at ports 0x70/0x71: the host's time (UTC, BCD, 24-hour) and CMOS RAM. */
#ifndef VMM_MAIN_RTC_H
#define VMM_MAIN_RTC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "bus.h"

#define RTC_PORT 0x70

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];
	time_t (*now)(void); /* the clock, replaceable by tests */
};

extern const struct bus_ops rtc_ops;

void rtc_init(struct rtc *r, uint64_t memory_bytes);
void rtc_destroy(struct rtc *r);

#endif
