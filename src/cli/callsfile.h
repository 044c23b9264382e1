/*
 * callsfile.h -- the calls file: how the agent of `stetho run --calls`
 * hands its call-count table to stetho (docs/capture-format.md, "The calls
 * file"), and its import into the capture as CALLS records.
 *
 * Contract: callsfile_make() creates a private directory for the agents
 * to write into (mode 0700, in $TMPDIR or /tmp) and puts its path in out;
 * -1 if it cannot.  Each counting process writes DIR/PID.calls every second
 * and at its interpreter's exit, each time whole (a temporary file renamed
 * over it), so a program killed later than its first second leaves the
 * counts of its last full second.  callsfile_import() reads every such file (after
 * the program is done), writes a frame per function and a CALLS record per
 * function and per caller -> callee edge of that pid, and removes the files
 * and the directory.  It validates everything (a file cut short or
 * garbled imports nothing past the damage, never crashes) and returns how
 * many functions it imported, or -1 with the reason in err (no table: the
 * program ended by os._exit or a signal in its first second, or was not
 * Python).
 */
#ifndef STETHO_CLI_CALLSFILE_H
#define STETHO_CLI_CALLSFILE_H

#include <stddef.h>
#include <stdint.h>

struct capture_writer;

int callsfile_make(char *out, size_t len);
long callsfile_import(const char *dir, struct capture_writer *w, char *err, size_t errlen);

#endif
