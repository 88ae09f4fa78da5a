/* C[b] = op(A[b]) · op(B[b]) for b < batch; op(A) [M, K], op(B) [K, N], C [M, N], all row-major. */
#ifndef DS_SGEMM_H
#define DS_SGEMM_H
#include <stddef.h>
typedef struct {
  const float *A, *B;
  float *C;
  int batch, M, N, K, transA, transB, threads;
  size_t strideA, strideB, strideC; /* elements between batch entries (0 broadcasts one operand) */
} SgemmArgs;
/* Picks the micro-kernel for this CPU; returns its name ("avx2+fma" or "c"). */
const char *sgemm_init(void);
/* 0, or -1 when the packing buffer cannot be allocated. */
int sgemm(const SgemmArgs *args);
#endif
