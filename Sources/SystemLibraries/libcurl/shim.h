/* Debian's libcurl; only Sources/CRemoteWrite includes it. */
#include <curl/curl.h>
