/*
 * report_run.c -- what `run` and `attach` print when recording ends: the
 * call tree of the capture just written (like pyinstrument), a memory
 * headline when the run recorded memory, then where the capture is and
 * how to look at it again.
 */
#include "cli/cli.h"
#include "cli/session.h"
#include "capture/capture.h"
#include "report/tree_print.h"

#include <stdlib.h>
#include <unistd.h>

void report_after_run(const char *capture_path, const struct session_result *res, FILE *out)
{
    if (res->samples == 0) {
        if (res->error[0])
            fprintf(out, "stetho: no samples: %s\n", res->error);
        else if (res->stopped)
            fprintf(out, "stetho: no samples (stopped before the first sample)\n");
        else
            fprintf(out, "stetho: no samples (the program ended before its first sample)\n");
    } else {
        struct capture c;
        char err[256];
        if (capture_load(capture_path, &c, err, sizeof err) == 0) {
            struct tree_opts o;
            tree_opts_init(&o);
            o.fold_recursion = 1;       /* as `stetho tree` shows it */
            o.color = isatty(fileno(out)) && !getenv("NO_COLOR");
            fputc('\n', out);
            report_tree_print(&c, &o, out);
            if (c.has_memory) {
                fputc('\n', out);
                report_memory_headline(&c, o.color, out);
                fprintf(out, "(the whole tree by memory: stetho tree %s --metric peak)\n",
                        capture_path);
            }
            capture_free(&c);
        } else {
            fprintf(out, "stetho: cannot read back %s: %s\n", capture_path, err);
        }
    }
    fprintf(out, "\nstetho: %llu samples in %.2f s, saved in %s (view again: stetho tree %s)\n",
            (unsigned long long)res->samples, res->seconds, capture_path, capture_path);
    const struct sampler_native_stats *ns = &res->native_stats;
    if (res->native && res->memory_native_stacks)
        fprintf(out, "stetho: --native: %llu of %llu allocation stacks merged partially (their "
                     "Python frames all kept)\n",
                (unsigned long long)res->memory_native_partial,
                (unsigned long long)res->memory_native_stacks);
    if (!res->native || !ns->ticks)
        return;
    if (ns->way == SAMPLER_WAY_PERF)
        fprintf(out, "stetho: --native: by perf events, no thread paused; unwinding took %.2f ms"
                " per sample on average (stacks: %llu copied by the kernel, %llu of blocked"
                " threads, %llu kept from before)",
                (double)ns->unwind_ns / 1e6 / (double)ns->ticks, (unsigned long long)ns->copies,
                (unsigned long long)ns->blocked, (unsigned long long)ns->reused);
    else
        fprintf(out, "stetho: --native: the threads were paused %.2f ms per sample on average%s%s%s",
                (double)ns->held_ns / 1e6 / (double)ns->ticks,
                ns->refused[0] ? " (perf events refused: " : "", ns->refused,
                ns->refused[0] ? ")" : "");
    fprintf(out, "; %llu of %llu stacks merged partially (their Python frames all kept), %llu"
            " without native frames\n", (unsigned long long)ns->partial,
            (unsigned long long)ns->samples, (unsigned long long)ns->missing);
}
