/*
 * test_units.c -- prof_parse_value: the values `stetho check` takes.
 */
#include "check.h"
#include "model/metrics.h"

static long long parsed(enum prof_unit u, const char *s)
{
    uint64_t v = 12345;
    return prof_parse_value(u, s, &v) < 0 ? -1 : (long long)v;
}

int main(void)
{
    CHECK_EQ_INT(parsed(PROF_UNIT_NS, "2s"), 2000000000);
    CHECK_EQ_INT(parsed(PROF_UNIT_NS, "500ms"), 500000000);
    CHECK_EQ_INT(parsed(PROF_UNIT_NS, "1.5"), 1500000000);
    CHECK_EQ_INT(parsed(PROF_UNIT_NS, "250us"), 250000);
    CHECK_EQ_INT(parsed(PROF_UNIT_NS, "7ns"), 7);
    CHECK_EQ_INT(parsed(PROF_UNIT_NS, "1.5min"), 90000000000LL);
    CHECK_EQ_INT(parsed(PROF_UNIT_NS, ".5s"), 500000000);
    CHECK_EQ_INT(parsed(PROF_UNIT_BYTES, "200MB"), 200000000);
    CHECK_EQ_INT(parsed(PROF_UNIT_BYTES, "1.5GiB"), 1610612736);
    CHECK_EQ_INT(parsed(PROF_UNIT_BYTES, "64KiB"), 65536);
    CHECK_EQ_INT(parsed(PROF_UNIT_BYTES, "10kB"), 10000);
    CHECK_EQ_INT(parsed(PROF_UNIT_BYTES, "512"), 512);
    CHECK_EQ_INT(parsed(PROF_UNIT_BYTES, "512 B"), 512);
    CHECK_EQ_INT(parsed(PROF_UNIT_COUNT, "10k"), 10000);
    CHECK_EQ_INT(parsed(PROF_UNIT_COUNT, "2.5M"), 2500000);
    CHECK_EQ_INT(parsed(PROF_UNIT_COUNT, "42"), 42);
    /* refused: no number, a sign, not finite, hex, an unknown or another
     * kind's unit, trailing junk, beyond 2^64 */
    const char *bad_time[] = { "", "s", "-1s", "+1s", "nan", "inf", "0x10s", "2x", "2 sec",
                               "2MB", "1e30s", "2s!" };
    for (size_t i = 0; i < sizeof bad_time / sizeof *bad_time; i++)
        CHECK(parsed(PROF_UNIT_NS, bad_time[i]) == -1);
    const char *bad_bytes[] = { "200Mb", "200mb", "1.5GIB", "2s", "-5", "1e20GB", "MB" };
    for (size_t i = 0; i < sizeof bad_bytes / sizeof *bad_bytes; i++)
        CHECK(parsed(PROF_UNIT_BYTES, bad_bytes[i]) == -1);
    const char *bad_counts[] = { "1.5kB", "10KiB", "1m", "ten" };
    for (size_t i = 0; i < sizeof bad_counts / sizeof *bad_counts; i++)
        CHECK(parsed(PROF_UNIT_COUNT, bad_counts[i]) == -1);
    return CHECK_DONE();
}
