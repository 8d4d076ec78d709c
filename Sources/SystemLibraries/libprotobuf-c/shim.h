/* Debian's libprotobuf-c; only Sources/CRemoteWrite includes it. */
#include <protobuf-c/protobuf-c.h>
