/* Debian's snappy; only Sources/CRemoteWrite includes it. */
#include <snappy-c.h>
