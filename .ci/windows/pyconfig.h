/* pyconfig.h for compile checks of the C core for Windows (x86_64) on Linux,
 * with MinGW-w64's headers (.ci/compile-headers, zig cc).  CPython's headers
 * are the same on every platform but this one file, which a Windows install
 * generates; this is the subset of it that Python.h needs, written for
 * pyqtguard's checks - not for building CPython or any other extension. */
#ifndef Py_CONFIG_H
#define Py_CONFIG_H

#define MS_WIN32
#define MS_WIN64
#define MS_WINDOWS
#define NT_THREADS
#define WITH_THREAD
#define Py_ENABLE_SHARED 1
#define Py_WINVER 0x0602                 /* Windows 8, as CPython 3.11+ */
#define Py_NTDDI NTDDI_WIN8
#define PLATFORM "win32"
#define COMPILER "[GCC]"

/* LLP64: long is 32 bits on 64-bit Windows. */
#define SIZEOF_SHORT 2
#define SIZEOF_INT 4
#define SIZEOF_LONG 4
#define SIZEOF_LONG_LONG 8
#define SIZEOF_VOID_P 8
#define SIZEOF_SIZE_T 8
#define SIZEOF_TIME_T 8
#define SIZEOF_WCHAR_T 2
#define SIZEOF_FLOAT 4
#define SIZEOF_DOUBLE 8
#define SIZEOF_FPOS_T 8
#define SIZEOF_OFF_T 4
#define SIZEOF_HKEY 8
#define SIZEOF__BOOL 1
#define ALIGNOF_SIZE_T 8
#define ALIGNOF_LONG 4
#define LONG_BIT 32
#define WORD_BIT 32
#define PY_LONG_LONG long long
#define HAVE_LONG_LONG 1
#define PY_FORMAT_SIZE_T "I64"

#define HAVE_DECLSPEC_DLL
#define HAVE_STDARG_PROTOTYPES
#define HAVE_WCHAR_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_FCNTL_H 1
#define HAVE_ERRNO_H 1
#define HAVE_SIGNAL_H 1
#define HAVE_STDDEF_H 1
#define HAVE_PROCESS_H 1
#define HAVE_DIRECT_H 1
#define HAVE_IO_H 1
#define HAVE_CLOCK 1
#define HAVE_STRFTIME 1
#define DONT_HAVE_SIG_ALARM
#define DONT_HAVE_SIG_PAUSE

#include <io.h>
#include <basetsd.h>
typedef SSIZE_T ssize_t;
#define HAVE_SSIZE_T 1

#endif /* Py_CONFIG_H */
