/*
 * nursery.c -- what the nursery (nursery.h) writes when it lets a block or
 * a sum go, and its table's life.  Callers hold th (thread_enter, or a
 * taker's hold) and the guard.
 */
#include "agent/event.h"

#include <string.h>

struct nursery *nursery_new(struct agent_thread *th)
{
    return th->nursery = agent_real.calloc(1, sizeof *th->nursery);
}

/* ts: at most the stamp of anything still held, so a chunk this starts
 * has a t0 no later than what is written into it after.  chunk_room: a
 * session's end (agent_state OFF) still sends what was held. */
static void write_block(struct agent_thread *th, const struct nursery_block *b, uint64_t ts)
{
    uint8_t *w = chunk_room(th, WIRE_FIXED_ALLOC, ts);
    if (w)
        write_alloc(th, w, (int)META_ALLOCATOR(b->meta), (const void *)(uintptr_t)b->addr,
                    META_SIZE(b->meta), META_STACK(b->meta), 0, b->ts);
}

static void write_temps(struct agent_thread *th, const struct nursery_temps *t, uint64_t ts)
{
    uint8_t *w = chunk_room(th, WIRE_FIXED_TEMPS, ts);
    if (w)
        chunk_commit(th, wire_put_temps(w, &(struct wire_temps){
                                               .allocator = META_ALLOCATOR(t->key),
                                               .stack = META_STACK(t->key),
                                               .size_class = META_SIZE(t->key),
                                               .count = t->count,
                                               .bytes = t->bytes,
                                               .temporary = t->temporary,
                                           }));
}

void nursery_write_block(struct agent_thread *th, const struct nursery_block *b)
{
    write_block(th, b, b->ts);
}

void nursery_write_temps(struct agent_thread *th, const struct nursery_temps *t)
{
    /* no stamp of its own: the thread's last one starts a chunk if need be */
    write_temps(th, t, th->clock_last);
}

/* Everything held, written.  A chunk_flush on the way (the chunk filled)
 * sends what was written so far without coming back here (settling), and
 * the rest goes into the next chunk, started no later than the oldest
 * block left. */
void nursery_settle(struct agent_thread *th)
{
    struct nursery *n = th->nursery;
    if (!n || n->settling)
        return;
    n->events = 0;
    if (!(n->blocks | n->temps))
        return;
    n->settling = 1;
    uint64_t oldest = UINT64_MAX;
    for (unsigned i = 0; i < NURSERY_SLOTS; i++)
        if (n->block[i].addr && n->block[i].ts < oldest)
            oldest = n->block[i].ts;
    for (unsigned i = 0; i < NURSERY_SLOTS && n->blocks; i++) {
        struct nursery_block *b = &n->block[i];
        if (!b->addr)
            continue;
        write_block(th, b, oldest);
        b->addr = 0;
        n->blocks--;
    }
    for (unsigned i = 0; i < TEMPS_SLOTS && n->temps; i++) {
        struct nursery_temps *t = &n->sum[i];
        if (!t->count)
            continue;
        write_temps(th, t, oldest != UINT64_MAX ? oldest : th->clock_last);
        t->count = 0;
        n->temps--;
    }
    assert(!n->blocks && !n->temps);
    n->settling = 0;
}

void nursery_drop(struct agent_thread *th)
{
    struct nursery *n = th->nursery;
    if (n)
        memset(n, 0, sizeof *n);
}

void nursery_free_table(struct agent_thread *th)
{
    agent_real.free(th->nursery);
    th->nursery = NULL;
}
