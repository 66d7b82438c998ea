/*
 * Stand-in bcryptprimitives.dll for Wine 8.0, which does not ship one.
 *
 * Rust's std (1.78 and later) imports ProcessPrng from bcryptprimitives.dll on
 * Windows to seed HashMap and for std's random source, so any Rust program or
 * DLL built for x86_64-pc-windows-gnu fails to load under Wine 8.0 with
 * STATUS_DLL_NOT_FOUND (exit status 53) unless this DLL is in the prefix.
 *
 * ProcessPrng is documented to always return TRUE and std ignores its result,
 * so this stand-in never reports failure: it fills the buffer from
 * RtlGenRandom (advapi32 SystemFunction036), falls back to
 * BCryptGenRandom(BCRYPT_USE_SYSTEM_PREFERRED_RNG), and if both fail it ends
 * the process (STATUS_STACK_BUFFER_OVERRUN, what __fastfail reports) rather
 * than hand out predictable bytes.
 *
 * Test-only. Never ship it: real Windows (8 and later) has its own.
 *
 * Build (testing/wine/wine-env.sh does this):
 *   x86_64-w64-mingw32-gcc -O2 -shared -s -nostdlib -Wl,--entry,DllEntry \
 *     -o bcryptprimitives.dll bcryptprimitives.c -lkernel32 -ladvapi32 -lbcrypt
 */
#include <windows.h>
#include <bcrypt.h>

/* RtlGenRandom's real export name; declared in ntsecapi.h behind macros. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI DllEntry(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}

static BOOL fill_chunk(PBYTE data, ULONG len)
{
    if (SystemFunction036(data, len))
        return TRUE;
    return BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, len, BCRYPT_USE_SYSTEM_PREFERRED_RNG));
}

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        if (!fill_chunk(data, chunk))
            TerminateProcess(GetCurrentProcess(), 0xC0000409u);
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
