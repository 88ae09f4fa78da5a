/* C[b] = op(A[b]) · op(B[b]) for b < batch; op(A) [M, K], op(B) [K, N], C [M, N], all row-major. */
#ifndef DS_SGEMM_H
#define DS_SGEMM_H
#include <stddef.h>
typedef struct {
  const float *A, *B;
  float *C;
  int batch, M, N, K, transA, transB;
  size_t strideA, strideB, strideC; /* elements between batch entries (0 broadcasts one operand) */
  int accumulate;                   /* 1: C += op(A)·op(B) */
} SgemmArgs;
/* Picks the micro-kernel for this CPU (DS_NATIVE_ISA may lower it); returns its name
 * ("avx512", "avx2+fma" or "c"). */
const char *sgemm_init(void);
/* 0, or -1 when a packing buffer cannot be allocated. Runs on the pool (pool.h). */
int sgemm(const SgemmArgs *args);
/* The micro-kernel in use, for kernels that pack their own operands (fused_attention.c):
 * c[mr, nr] (= or +=) Σ_k a[k, :]ᵀ b[k, :] over a packed [kc, mr], b packed [kc, nr] (64-byte aligned). */
typedef struct {
  int mr, nr;
  void (*fn)(int kc, const float *a, const float *b, float *c, size_t ldc, int accumulate);
  /* The same with a read in place, row-major: row i at a + i·lda (mr rows must be readable). */
  void (*fn_lda)(int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc, int accumulate);
} SgemmMicro;
const SgemmMicro *sgemm_micro(void);
/* The same product on the calling thread only (for use inside a pool task). */
int sgemm_serial(const SgemmArgs *args, int thread);
#endif
