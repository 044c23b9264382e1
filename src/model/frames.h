/*
 * frames.h -- frame identity, the first step of profile_build: each
 * frame id of the capture mapped to its function and its line, merged by
 * text (profile.h says what makes one).
 *
 * Contract: fills p->funcs (none_func last), p->lines, p->func_of,
 * p->line_of and p->hidden (a frame of the standard library or an
 * installed library; synthetic frames never are) from p->cap; tables
 * only, every metric zero.  0, or -1 when out of memory (profile_free
 * then frees what was made).
 */
#ifndef STETHO_MODEL_FRAMES_H
#define STETHO_MODEL_FRAMES_H

#include "model/profile.h"

int prof_frames_build(struct profile *p);

#endif
