/*
 * top_view.c -- paint one frame of `stetho top` from the model.
 *
 * Everything printed is a sum the model made (profile.h): the header reads
 * the whole window's totals and its function "[gc]", the table the sites
 * of `shown`.  Lines are cut, never wrapped, so a small or resized
 * terminal only loses the right and bottom edges.  Colour only through
 * the pairs set up by the caller (v->color); without it, bold and reverse.
 */
#include "report/top_view.h"
#include "model/capinfo.h"
#include "util/utf8.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAIR_HEAD 1
#define PAIR_TITLE 2
#define PAIR_KEYS 3

static const char *const col_names[TOP_NCOLS] = {
    "own", "total", "own cpu", "total cpu", "wait", "held now", "allocated", "allocs",
};

const char *top_col_name(int col)
{
    return col >= 0 && col < TOP_NCOLS ? col_names[col] : "?";
}

/* printf at (y, x), cut at the screen's right edge on a character boundary. */
static void put(int y, int x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(int y, int x, const char *fmt, ...)
{
    if (y >= LINES || x >= COLS)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    n = utf8_cut(buf, n, (size_t)(COLS - x));
    mvaddnstr(y, x, buf, (int)n);
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void attr(const struct top_view *v, int pair, attr_t fallback, int on)
{
    int a = (int)(v->color ? (attr_t)COLOR_PAIR(pair) : fallback);
    if (on)
        attron(a);
    else
        attroff(a);
}

/* The share of the window spent collecting garbage: the model's "[gc]". */
static uint64_t gc_ns(const struct profile *p)
{
    for (size_t i = 0; i < p->nfuncs; i++)
        if (p->funcs[i].kind == CAP_FRAME_SYNTHETIC && !strcmp(p->funcs[i].function, "[gc]"))
            return p->funcs[i].total.wall_ns;
    return 0;
}

/* RSS over the last refreshes as one row of ASCII levels (any terminal),
 * from the lowest to the highest value shown: a flat line when it holds. */
static void rss_graph(char *out, size_t width, const struct top_view *v)
{
    static const char levels[] = "_.-=+*#";
    size_t n = v->nrss < width ? v->nrss : width, first = v->nrss - n;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = first; i < v->nrss; i++) {
        lo = v->rss[i] < lo ? v->rss[i] : lo;
        hi = v->rss[i] > hi ? v->rss[i] : hi;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = hi > lo ? levels[(v->rss[first + i] - lo) * (sizeof levels - 2) / (hi - lo)] : '-';
    out[n] = '\0';
}

static int header(const struct profile *p, const struct top_view *v)
{
    const struct capture *c = p ? p->cap : NULL;
    const struct cap_process *proc = c ? capture_process(c, v->pid) : NULL;
    char cmd[512] = "", b1[PROF_FMT_LEN], b2[PROF_FMT_LEN];
    if (c)
        capture_command(c, v->pid, cmd, sizeof cmd);
    attr(v, PAIR_HEAD, A_BOLD, 1);
    put(0, 0, "stetho top  pid %d  Python %s  %s", (int)v->pid,
        proc && proc->python_version ? proc->python_version : "?",
        v->status ? v->status : v->paused ? "PAUSED" : "sampling");
    attr(v, PAIR_HEAD, A_BOLD, 0);
    if (v->note)
        put(1, 0, "%s | %s", v->note, cmd);
    else
        put(1, 0, "%s", cmd);
    if (!p) {
        put(3, 0, "waiting for the first samples...");
        return 6;
    }
    const struct prof_metrics *t = &p->total;
    uint64_t elapsed = capture_duration(c);
    put(2, 0, "elapsed %.1fs  samples %llu  threads %zu  window %s%.1fs", prof_secs(elapsed),
        (unsigned long long)t->samples, p->nthreads, v->window_t0_ns ? "since " : "all ",
        prof_secs(v->window_t0_ns ? v->window_t0_ns : elapsed));
    put(3, 0, "CPU user %.1f%%  sys %.1f%%   GIL wait %.1f%%   GC %.1f%%   (of thread time)",
        pct(t->user_ns, t->wall_ns), pct(t->sys_ns, t->wall_ns),
        pct(t->wait_ns[CAP_WAIT_GIL], t->wall_ns), pct(gc_ns(p), t->wall_ns));
    put(4, 0, "Wait io %.1f%%  sleep %.1f%%  lock %.1f%%  gil %.1f%%  other %.1f%%",
        pct(t->wait_ns[CAP_WAIT_IO], t->wall_ns), pct(t->wait_ns[CAP_WAIT_SLEEP], t->wall_ns),
        pct(t->wait_ns[CAP_WAIT_LOCK], t->wall_ns), pct(t->wait_ns[CAP_WAIT_GIL], t->wall_ns),
        pct(t->wait_ns[CAP_WAIT_OTHER], t->wall_ns));
    char graph[TOP_RSS_POINTS + 1];
    rss_graph(graph, 24, v);
    int x = 0;
    put(5, 0, "RSS %s peak %s [%s]%n", prof_fmt_bytes(b1, sizeof b1, v->nrss ? v->rss[v->nrss - 1] : 0),
        prof_fmt_bytes(b2, sizeof b2, v->rss_peak), graph, &x);
    if (c->has_memory && c->ntimeline) {
        uint64_t peak = 0;
        for (size_t i = 0; i < c->ntimeline; i++)
            if (c->timeline[i].heap_bytes > peak)
                peak = c->timeline[i].heap_bytes;
        put(5, x, "  heap %s peak %s",
            prof_fmt_bytes(b1, sizeof b1, c->timeline[c->ntimeline - 1].heap_bytes),
            prof_fmt_bytes(b2, sizeof b2, peak));
    } else {
        put(5, x, "  heap: not recorded");
    }
    return 6;
}

struct line {
    const struct prof_site *site;
    uint64_t key, tiebreak;     /* own wall: of equal totals, the callee first */
};

static int by_key(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    if (x->tiebreak != y->tiebreak)
        return x->tiebreak < y->tiebreak ? 1 : -1;
    return x->site < y->site ? -1 : x->site > y->site;
}

static uint64_t col_value(const struct prof_site *s, int col)
{
    switch (col) {
    case TOP_OWN: return s->self.wall_ns;
    case TOP_TOTAL: return s->total.wall_ns;
    case TOP_OWN_CPU: return s->self.user_ns + s->self.sys_ns;
    case TOP_TOTAL_CPU: return s->total.user_ns + s->total.sys_ns;
    case TOP_WAIT: return prof_wait_ns(&s->total);
    case TOP_HELD: return s->total.live_bytes;
    case TOP_ALLOCATED: return s->total.alloc_bytes;
    default: return s->total.alloc_count;
    }
}

/* Values in 7 columns, however long the run: "12.34s", "123.4s", "12345s";
 * "999", "12.3k", "4.5M", "1.2G". */
static void short_secs(char *out, size_t len, uint64_t ns)
{
    double s = prof_secs(ns);
    snprintf(out, len, s < 100 ? "%.2fs" : s < 1000 ? "%.1fs" : "%.0fs", s);
}

static void short_count(char *out, size_t len, uint64_t n)
{
    if (n < 1000)
        snprintf(out, len, "%llu", (unsigned long long)n);
    else if (n < 1000000)
        snprintf(out, len, "%.1fk", (double)n / 1e3);
    else if (n < 1000000000)
        snprintf(out, len, "%.1fM", (double)n / 1e6);
    else
        snprintf(out, len, "%.1fG", (double)n / 1e9);
}

static int matches(const struct prof_site *s, const char *filter)
{
    return !filter[0] || strstr(s->function, filter) || strstr(s->file, filter);
}

/* "sleep 98%": the kind the site waited on most, and its share of the wait. */
static void main_wait(char *out, size_t len, const struct prof_metrics *m)
{
    uint64_t all = prof_wait_ns(m);
    int best = 0;
    for (int k = 1; k < CAP_WAIT_KINDS; k++)
        if (m->wait_ns[k] > m->wait_ns[best])
            best = k;
    if (!all)
        snprintf(out, len, "-");
    else
        snprintf(out, len, "%s %.0f%%", prof_wait_name(best), pct(m->wait_ns[best], all));
}

/* The columns shown: all of the ncols, unless the names would get fewer
 * than NAME_ROOM characters; then the least telling ones go first (the
 * CPU split, then the allocation count), never the one sorted by. */
enum { NAME_ROOM = 24 };

static void shown_columns(int shown[TOP_NCOLS], const int width[TOP_NCOLS], int ncols,
                          int sort)
{
    static const int drop_order[] = { TOP_TOTAL_CPU, TOP_OWN_CPU, TOP_ALLOCATIONS };
    int used = 0;
    for (int k = 0; k < TOP_NCOLS; k++) {
        shown[k] = k < ncols;
        used += shown[k] ? width[k] + 1 : 0;
    }
    for (size_t i = 0; i < sizeof drop_order / sizeof drop_order[0]; i++) {
        int k = drop_order[i];
        if (COLS - used >= NAME_ROOM)
            break;
        if (shown[k] && k != sort) {
            shown[k] = 0;
            used -= width[k] + 1;
        }
    }
}

static void table(const struct profile *p, const struct top_view *v, int y0, int y1)
{
    int memory = p->cap->has_memory;
    const struct prof_site *sites = v->lines ? p->lines : p->funcs;
    size_t n = v->lines ? p->nlines : p->nfuncs, nl = 0;
    struct line *ls = malloc((n ? n : 1) * sizeof *ls);
    if (!ls) {
        put(y0, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct prof_site *s = &sites[i];
        int mem = memory && (s->total.alloc_count || s->total.live_bytes);
        if ((s->total.samples || mem) && matches(s, v->filter))
            ls[nl++] = (struct line){ s, col_value(s, v->sort), s->self.wall_ns };
    }
    qsort(ls, nl, sizeof *ls, by_key);

    static const int width[TOP_NCOLS] = { 7, 7, 7, 9, 10, 8, 9, 7 };
    int ncols = memory ? TOP_NCOLS : TOP_HELD, x = 0, shown[TOP_NCOLS];
    shown_columns(shown, width, ncols, v->sort);
    attr(v, PAIR_TITLE, A_REVERSE, 1);
    move(y0, 0);
    clrtoeol();
    for (int k = 0; k < ncols; k++) {
        if (!shown[k])
            continue;
        if (k == v->sort)
            attron(A_BOLD | A_UNDERLINE);
        put(y0, x, "%*s", width[k], col_names[k]);
        if (k == v->sort)
            attroff(A_BOLD | A_UNDERLINE);
        x += width[k] + 1;
    }
    put(y0, x, "%-*s", COLS > x ? COLS - x : 0, v->lines ? "LINE" : "FUNCTION");
    attr(v, PAIR_TITLE, A_REVERSE, 0);

    for (size_t i = 0; i < nl && y0 + 1 + (int)i < y1; i++) {
        const struct prof_site *s = ls[i].site;
        int y = y0 + 1 + (int)i;
        char cell[PROF_FMT_LEN];
        x = 0;
        for (int k = 0; k < ncols; k++) {
            if (!shown[k])
                continue;
            uint64_t val = col_value(s, k);
            if (k == TOP_WAIT)
                main_wait(cell, sizeof cell, &s->total);
            else if (k == TOP_HELD || k == TOP_ALLOCATED)
                prof_fmt_bytes(cell, sizeof cell, val);
            else if (k == TOP_ALLOCATIONS)
                short_count(cell, sizeof cell, val);
            else
                short_secs(cell, sizeof cell, val);
            put(y, x, "%*s", width[k], cell);
            x += width[k] + 1;
        }
        /* the file's base name: an 80-column screen has no room for paths */
        const char *base = strrchr(s->file, '/');
        if (s->kind == CAP_FRAME_NATIVE && s->line <= 0)    /* file: its module */
            put(y, x, "%s  [native] %s", s->function, base ? base + 1 : s->file);
        else if (s->file[0])
            put(y, x, "%s  %s:%d", s->function, base ? base + 1 : s->file, (int)s->line);
        else
            put(y, x, "%s", s->function);
    }
    if (!nl)
        put(y0 + 1, 0, v->filter[0] ? "(nothing matches the filter)" : "(no samples yet)");
    free(ls);
}

static void help(const struct top_view *v)
{
    static const char *const text[] = {
        "Keys",
        "  1..8, < >   sort by a column (own, total, own cpu, total cpu, wait, ...)",
        "  p           pause / resume refreshing (sampling goes on)",
        "  t           thread view: all threads, then each thread in turn",
        "  l           lines / functions",
        "  /           filter by function or file (Enter keeps, Esc clears)",
        "  r           reset: count from now on",
        "  + -         refresh faster / slower",
        "  q, Ctrl-C   quit (the program keeps running)",
        "",
        "any key closes this help",
    };
    int n = (int)(sizeof text / sizeof text[0]), y = LINES > n + 2 ? (LINES - n) / 2 : 0;
    for (int i = 0; i < n; i++) {
        move(y + i, 0);
        clrtoeol();
        attr(v, PAIR_HEAD, A_BOLD, i == 0);
        put(y + i, 2, "%s", text[i]);
        attr(v, PAIR_HEAD, A_BOLD, 0);
    }
}

void top_view_draw(const struct profile *whole, const struct profile *shown,
                   const struct top_view *v)
{
    erase();
    int y = header(whole, v);
    const char *thread = "all threads";
    char tb[96];
    if (v->tid) {
        const char *name = NULL;
        for (size_t i = 0; whole && i < whole->nthreads; i++)
            if (whole->threads[i].tid == v->tid)
                name = whole->threads[i].name;
        snprintf(tb, sizeof tb, "thread %d%s%s", (int)v->tid, name ? " " : "", name ? name : "");
        thread = tb;
    }
    put(y, 0, "%s, %s, sort %s, refresh %gs%s%s", v->lines ? "lines" : "functions", thread,
        col_names[v->sort], v->refresh_s, v->filter[0] || v->editing ? ", filter: " : "",
        v->filter);
    if (shown)
        table(shown, v, y + 1, LINES - 1);
    if (v->help)
        help(v);
    attr(v, PAIR_KEYS, A_REVERSE, 1);
    move(LINES - 1, 0);
    clrtoeol();
    if (v->editing)
        put(LINES - 1, 0, "filter: %s_   (Enter: keep, Esc: clear)", v->filter);
    else
        put(LINES - 1, 0, "q quit  p pause  t thread  l lines  / filter  r reset  <> sort"
                          "  +- rate  ? help");
    attr(v, PAIR_KEYS, A_REVERSE, 0);
    refresh();
}
