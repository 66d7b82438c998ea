/*
 * Self-test of the bcryptprimitives.dll stand-in: loads it the way Rust's std does
 * (by name, from the prefix's system32), calls ProcessPrng on two buffers and checks
 * that neither is all zeros and that they differ. Prints one JSON line; exit 0 = pass.
 *
 *   x86_64-w64-mingw32-gcc -O2 -o prng-check.exe prng-check.c   (selftest.sh does this)
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>

typedef BOOL(WINAPI *process_prng_fn)(PBYTE, SIZE_T);

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int main(void)
{
    unsigned char a[64], b[64];
    char hex[2 * sizeof a + 1];
    HMODULE dll = LoadLibraryW(L"bcryptprimitives.dll");
    if (!dll) {
        printf("{\"event\":\"prng_check\",\"ok\":false,\"error\":\"LoadLibraryW\",\"last_error\":%lu}\n",
               (unsigned long)GetLastError());
        return 2;
    }
    process_prng_fn prng = (process_prng_fn)(void (*)(void))GetProcAddress(dll, "ProcessPrng");
    if (!prng) {
        printf("{\"event\":\"prng_check\",\"ok\":false,\"error\":\"GetProcAddress\"}\n");
        return 3;
    }
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    BOOL ra = prng(a, sizeof a), rb = prng(b, sizeof b);
    int ok = ra && rb && !all_zero(a, sizeof a) && !all_zero(b, sizeof b) && memcmp(a, b, sizeof a) != 0;
    for (size_t i = 0; i < sizeof a; i++)
        snprintf(hex + 2 * i, 3, "%02x", a[i]);
    printf("{\"event\":\"prng_check\",\"ok\":%s,\"sample\":\"%s\"}\n", ok ? "true" : "false", hex);
    fflush(stdout);
    return ok ? 0 : 1;
}
