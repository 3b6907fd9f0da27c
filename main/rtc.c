#include "rtc.h"

#include <string.h>

#include "layout.h"
#include "util.h"

enum {
	RTC_SEC = 0x00,
	RTC_MIN = 0x02,
	RTC_HOUR = 0x04,
	RTC_WDAY = 0x06,
	RTC_MDAY = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32,
};

#define REG_B_24H 0x02
#define REG_B_BINARY 0x04

static time_t host_now(void)
{
	return time(NULL);
}

void rtc_init(struct rtc *r, uint64_t memory_bytes)
{
	uint64_t ext_kib, above_16m;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->now = host_now;
	/* glibc's first gmtime_r() reads the time zone file: do it now, while vmm.policy (no
	 * open) is not loaded yet. */
	tzset();
	r->cmos[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate, no update in progress */
	r->cmos[RTC_REG_B] = REG_B_24H;
	r->cmos[RTC_REG_D] = 0x80; /* battery good */
	/* Memory sizes in CMOS, as a PC BIOS leaves them (0x30/0x31 KiB above 1 MiB, capped;
	 * 0x34/0x35 64 KiB blocks above 16 MiB). Linux does not need them; firmware-ish tools do. */
	ext_kib = MIN((MIN(memory_bytes, MEM_HOLE_START) - MIB(1)) >> 10, 0xffffULL);
	r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext_kib;
	r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext_kib >> 8);
	above_16m = MIN(memory_bytes, MEM_HOLE_START);
	above_16m = above_16m > MIB(16) ? MIN((above_16m - MIB(16)) >> 16, 0xffffULL) : 0;
	r->cmos[0x34] = (uint8_t)above_16m;
	r->cmos[0x35] = (uint8_t)(above_16m >> 8);
}

void rtc_destroy(struct rtc *r)
{
	pthread_mutex_destroy(&r->lock);
}

static uint8_t encode(const struct rtc *r, int v)
{
	if (r->cmos[RTC_REG_B] & REG_B_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t read_index(struct rtc *r, uint8_t idx)
{
	time_t t = r->now();
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	switch (idx) {
	case RTC_SEC:
		return encode(r, tm.tm_sec);
	case RTC_MIN:
		return encode(r, tm.tm_min);
	case RTC_HOUR:
		return encode(r, tm.tm_hour);
	case RTC_WDAY:
		return encode(r, tm.tm_wday + 1);
	case RTC_MDAY:
		return encode(r, tm.tm_mday);
	case RTC_MONTH:
		return encode(r, tm.tm_mon + 1);
	case RTC_YEAR:
		return encode(r, tm.tm_year % 100);
	case RTC_CENTURY:
		return encode(r, (tm.tm_year + 1900) / 100);
	case RTC_REG_C: {
		uint8_t v = r->cmos[RTC_REG_C];
		r->cmos[RTC_REG_C] = 0; /* read clears the interrupt flags */
		return v;
	}
	default:
		return r->cmos[idx];
	}
}

static void rtc_read(void *ctx, uint64_t off, uint8_t *data, uint32_t len)
{
	struct rtc *r = ctx;

	memset(data, 0, len);
	pthread_mutex_lock(&r->lock);
	data[0] = off == 0 ? r->index : read_index(r, r->index);
	pthread_mutex_unlock(&r->lock);
}

static void rtc_write(void *ctx, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct rtc *r = ctx;

	(void)len;
	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		r->index = data[0] & 0x7f; /* bit 7 is the NMI mask */
	} else if (r->index == RTC_REG_B) {
		r->cmos[RTC_REG_B] = data[0] & 0x7e; /* no alarm/periodic interrupt support */
	} else if (r->index > RTC_REG_D) {
		r->cmos[r->index] = data[0]; /* CMOS RAM; the clock itself is the host's */
	}
	pthread_mutex_unlock(&r->lock);
}

const struct bus_ops rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
};
