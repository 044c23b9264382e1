/*
 * cli.h -- the stetho command's subcommands and shared helpers.
 *
 * Contract: each cmd_* takes the arguments after its name and returns the
 * process exit status.  Errors that are the user's (bad flags, bad pid, not
 * Python, ...) print one line "stetho: ..." on stderr and give status 2
 * (STETHO_EXIT_USAGE); see docs/cli.md.
 */
#ifndef STETHO_CLI_H
#define STETHO_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define STETHO_EXIT_USAGE 2

int cmd_dump(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_tree(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_html(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_leaks(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_top(int argc, char **argv);

struct session_result;
/* What `run` and `attach` print at the end: the call tree of the capture
 * just written, and where it is (report_run.c). */
void report_after_run(const char *capture_path, const struct session_result *res, FILE *out);

/* `run --live`: the view of `top` on the program, in a forked child that
 * reads capture_path while the caller records; returns its pid (-1 if
 * fork failed).  output_note names where the program's output goes. */
pid_t top_live_start(pid_t program, const char *capture_path, const char *output_note);

/* Print "stetho: <message>\n" on stderr; returns STETHO_EXIT_USAGE. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a positive pid; -1 if `s` is not one. */
pid_t cli_parse_pid(const char *s);

/* The agent library: $STETHO_AGENT, else libstetho_agent.so beside the
 * stetho executable; 0, or -1 if it is not there (agentfile.c). */
int cli_find_agent(char *out, size_t len);


#endif
