/*
 * agentfile.c -- where libstetho_agent.so is (cli.h): `run` preloads it,
 * `attach --memory` has the program load it.
 */
#include "cli/cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_find_agent(char *out, size_t len)
{
    const char *env = getenv("STETHO_AGENT");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return access(out, R_OK) == 0 ? 0 : -1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = 0;
    if ((size_t)snprintf(out, len, "%.*s/libstetho_agent.so", (int)(len - 32), exe) >= len)
        return -1;
    return access(out, R_OK) == 0 ? 0 : -1;
}
