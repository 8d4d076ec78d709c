/* Debian's zlib; only Sources/CChecksum includes it. */
#include <zlib.h>
