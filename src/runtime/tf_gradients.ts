// tfjs-core registers no gradients by itself (the @tensorflow/tfjs umbrella does); training needs
// them. Under plain Node this import needs bin/register.js's resolve hook (see there).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
