/*
 * capinfo.h -- what a capture says about its strings, processes and
 * threads, looked up the one way every view looks them up.
 *
 * Contract: read-only look-ups on a loaded capture; ids out of range
 * give NULL (or the documented fallback), never a crash.
 */
#ifndef STETHO_MODEL_CAPINFO_H
#define STETHO_MODEL_CAPINFO_H

#include <stddef.h>
#include <stdint.h>
#include "capture/capture.h"

/* The text of string id, or NULL (out of range, or no text). */
const char *capture_string(const struct capture *c, uint32_t id);
/* Thread name from the capture's thread records (the last one given), or NULL. */
const char *capture_thread_name(const struct capture *c, int32_t pid, int32_t tid);
/* The capture's process record of pid, or NULL. */
const struct cap_process *capture_process(const struct capture *c, int32_t pid);
/* Where a stack "is" for a location list: its innermost Python frame, or
 * its innermost frame when it has no Python one ([native], ...); NULL for
 * the empty stack or an unknown id. */
const struct cap_frame *capture_stack_site(const struct capture *c, uint32_t stack);
/* Process pid's command line, its words joined by spaces (cut to fit len
 * on a UTF-8 character boundary), or "process PID" when the capture has
 * no record of it. */
void capture_command(const struct capture *c, int32_t pid, char *buf, size_t len);
/* How long the run lasted: its recorded duration, or (cut short) at
 * least until its last sample. */
uint64_t capture_duration(const struct capture *c);
/* The distinct (pid, tid) among all samples. */
size_t capture_sampled_threads(const struct capture *c);

#endif
