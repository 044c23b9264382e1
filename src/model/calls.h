/*
 * calls.h -- exact call counts in the report model: the capture's CALLS
 * records (`run --calls`) summed per function and per caller -> callee
 * edge, functions merged by text like every other table (profile.h).
 *
 * Contract: after prof_frames_build, fills funcs[].calls, call_edges (in
 * order of first sight) and has_calls from p->cap, keeping only the
 * processes the pid filter keeps.  0, or -1 when out of memory.
 * prof_call_edge() finds the counts of the edge caller -> callee (funcs
 * indices), NULL if it was never counted.
 */
#ifndef STETHO_MODEL_CALLS_H
#define STETHO_MODEL_CALLS_H

#include "model/profile.h"

int prof_calls_build(struct profile *p);
const struct prof_calls *prof_call_edge(const struct profile *p, uint32_t caller,
                                        uint32_t callee);

#endif
