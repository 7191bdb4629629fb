/* C library functions that Swift's Glibc module does not expose. */
#include <malloc.h>
