/*
 * capframe.h -- a native frame as a capture frame: the one place that
 * turns what native/unwind.h found into what the capture keeps, for time
 * samples and for memory stacks alike.
 *
 * Contract: native_capture_frame() interns f's module (path and build-id,
 * once per capture) and returns the id of a CAP_FRAME_NATIVE frame with
 * f's place (module, address inside its ELF file) and what it was
 * resolved to when recorded: the function (demangled), else
 * MODULE+0xOFFSET with the module's base name, else 0xPC; the source file,
 * line and the function's first line where the module had debug
 * information, else the module's path and 0.  0 when the writer failed (capw_* errors).
 */
#ifndef STETHO_NATIVE_CAPFRAME_H
#define STETHO_NATIVE_CAPFRAME_H

#include <stdint.h>
#include "capture/capture.h"
#include "native/unwind.h"

uint32_t native_capture_frame(struct capture_writer *w, const struct native_frame *f);

#endif
