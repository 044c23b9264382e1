/*
 * capframe.h -- a native frame as a capture frame: the one place that
 * says how, for the time sampler (`run --native`) and for memory (the
 * agent's native stacks, memtrack.c) alike.
 *
 * Contract: native_capture_frame() interns f in the capture and returns
 * the frame id: kind CAP_FRAME_NATIVE, function the symbol without its
 * version ("@GLIBC_2.2.5"), else MODULE+0xADDRESS (the module's base
 * name), else 0xPC; file the module's path ("" if none); line 0.
 */
#ifndef STETHO_NATIVE_CAPFRAME_H
#define STETHO_NATIVE_CAPFRAME_H

#include <stdint.h>
#include "capture/capture.h"
#include "native/unwind.h"

uint32_t native_capture_frame(struct capture_writer *w, const struct native_frame *f);

#endif
