#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
// llama.cpp's own quantizer (llama-quantize's library call), linked against the libllama that
// node-llama-cpp's prebuilt package ships, so that tests can compare deepscale with files that
// llama.cpp itself quantized without building llama.cpp. No headers: the params struct is filled
// by llama_model_quantize_default_params (returned through a pointer, so an over-sized buffer
// holds it); its first two fields are int32 nthread and int32 ftype (llama_ftype: 2 Q4_0, 3 Q4_1,
// 7 Q8_0, 8 Q5_0, 9 Q5_1, 10 Q2_K, 12 Q3_K_M, 15 Q4_K_M, 17 Q5_K_M, 18 Q6_K).
//   clang -O1 -o llama_quantize scripts/llama_quantize.c -L$LIB -l:libllama.v0.5.0.so -Wl,-rpath,$LIB
//   ./llama_quantize in.gguf out.gguf 15
typedef struct { unsigned char bytes[512]; } params_t;
extern params_t llama_model_quantize_default_params(void);
extern uint32_t llama_model_quantize(const char* in, const char* out, const params_t* p);
extern void llama_backend_init(void);
int main(int argc, char** argv) {
  if (argc != 4) { fprintf(stderr, "usage: lq IN OUT FTYPE\n"); return 2; }
  llama_backend_init();
  params_t p = llama_model_quantize_default_params();
  int32_t* f = (int32_t*)p.bytes;
  f[0] = 1;
  f[1] = atoi(argv[3]);
  uint32_t r = llama_model_quantize(argv[1], argv[2], &p);
  printf("llama_model_quantize -> %u\n", r);
  return r != 0;
}
