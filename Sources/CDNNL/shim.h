#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
/* omp.h is not on Swift's clang include path; oneDNN is built with libgomp. */
void omp_set_num_threads(int);
int omp_get_max_threads(void);
