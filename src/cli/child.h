/*
 * child.h -- start the profiled program and stand aside.
 *
 * Contract: child_spawn() forks and execs argv (PATH search) with stetho's
 * own signal dispositions and mask reset, so the program sees exactly what
 * it would have without stetho.  If exec fails, it returns -1 with errno
 * from the child.  child_forward_signals() makes SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGUSR1 and SIGUSR2 sent to stetho reach the child -- except
 * those the terminal already sent to the whole foreground group (so Ctrl-C
 * arrives once, not twice).  child_wait() reaps it without blocking and
 * gives the shell-style status (exit code, or 128+N for signal N).
 * SIGCHLD interrupts stetho's sleeps so the exit is seen at once.
 */
#ifndef STETHO_CLI_CHILD_H
#define STETHO_CLI_CHILD_H

#include <sys/types.h>

pid_t child_spawn(char *const argv[]);
void child_forward_signals(pid_t child);

/* 1 and *status if the child has exited, 0 if it is still running, -1 on error. */
int child_wait(pid_t child, int *status, int block);

#endif
