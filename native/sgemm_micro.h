/* Internal to sgemm.c and sgemm_micro.c: the micro-kernel sgemm_init picked. */
#ifndef DS_SGEMM_MICRO_H
#define DS_SGEMM_MICRO_H
#include <stddef.h>

/* c[mr, nr] (= or +=) Σ_k a[k, :]ᵀ b[k, :] over packed a [kc, mr] and b [kc, nr]. */
typedef void (*micro_fn)(int kc, const float *a, const float *b, float *c, size_t ldc, int accumulate);
/* The same with A read in place: row i of the mr-row block at a + i·lda (no packing). */
typedef void (*micro_lda_fn)(int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc, int accumulate);

typedef struct {
  int mr, nr, mc; /* mc: rows of A per packed block (a multiple of mr; the block stays in L2) */
  micro_fn fn;
  const char *name;
} Micro;

extern Micro sgemm_kernel;
extern micro_lda_fn sgemm_kernel_lda;
#endif
