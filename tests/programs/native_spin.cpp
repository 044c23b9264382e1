// native_spin.cpp -- a C++ function with a known mangled name
// (_ZN2ns5Klass4spinEi, demangled "ns::Klass::spin(int)") and known source
// lines, linked into tests/programs/native_burn.c's extension, for
// tests/e2e/test_native.py: demangling and file:line from debug info.
// No C++ library is used, so the extension links without libstdc++.
#include <time.h>

namespace ns {

struct Klass {
    static volatile unsigned long sink;
    void spin(int ms);
};

volatile unsigned long Klass::sink;

static double now()
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

__attribute__((noinline)) void Klass::spin(int ms) { // ENTRY
    double end = now() + ms / 1000.0;
    do {
        for (unsigned long i = 0; i < 2000; i++) sink += i * 2654435761u; // SPIN
    } while (now() < end);  // often: samples land in now()'s inlined lines too
}

}  // namespace ns

extern "C" void native_spin(int ms)
{
    ns::Klass k;
    k.spin(ms);
}
