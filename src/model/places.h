/*
 * places.h -- the model's lists by location: where a stack "is" (its
 * innermost Python frame, capinfo.h capture_stack_site), with the metrics
 * of every row (pid, tid, stack) there summed.
 *
 * Contract: places are merged by the TEXT of (function, file, line) --
 * one entry per line of profile.lines, whatever thread, stack or string
 * ids reached it -- plus one for stacks without any frame.  `stetho
 * stats`'s top locations and the run's "Held at the peak" read them.
 * Sorted by one metric, largest first; ties by a second, then by first
 * sight (so the output is stable).
 */
#ifndef STETHO_MODEL_PLACES_H
#define STETHO_MODEL_PLACES_H

#include "model/profile.h"

struct prof_place {
    const struct prof_site *line;       /* in profile.lines; NULL: no frames */
    struct prof_metrics m;
    uint32_t order;                     /* first sight */
};

struct prof_places {
    struct prof_place *v;
    size_t n;
};

/* 0, or -1 when out of memory. */
int prof_places_build(struct prof_places *pl, const struct profile *p);
void prof_places_free(struct prof_places *pl);
/* Sort by metric `by`, then `then` (enum prof_metric), both descending. */
void prof_places_sort(struct prof_places *pl, enum prof_metric by, enum prof_metric then);

#endif
