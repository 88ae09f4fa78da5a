// tfjs-core's ESM files (dist/*.js) import siblings without extensions ('./gradients/Abs_grad'),
// which Node's ESM resolver refuses. The CJS bundle Node loads by default registers no gradients,
// so training imports dist/register_all_gradients.js; this hook adds the '.js' those imports lack.
// Kernel and gradient registries and the engine are process globals in tfjs, so the ESM files
// and the CJS bundle share them.
export async function resolve(specifier, context, next) {
  const parent = context.parentURL ?? '';
  if (parent.includes('/@tensorflow/tfjs-core/dist/') && specifier.startsWith('.') && !/\.[cm]?js$/.test(specifier)) {
    try {
      return await next(`${specifier}.js`, context);
    } catch {
      return next(`${specifier}/index.js`, context);
    }
  }
  return next(specifier, context);
}
