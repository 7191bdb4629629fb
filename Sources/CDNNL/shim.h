#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
/* omp.h is not on Swift's clang include path; oneDNN is built with libgomp. */
void omp_set_num_threads(int);
int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
/* libgomp's entry point for a parallel region (what `#pragma omp parallel` compiles to): every thread of the team,
   the caller included, runs fn(data). Used to run SwiftGAN's own loops on the threads oneDNN already keeps warm. */
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
