import { Adam } from './adam.ts';

/**
 * AdamW (Loshchilov & Hutter): weight decay decoupled from the gradient,
 * p ← p·(1 − lr·wd) − lr·m̂/(√v̂ + ε), as torch.optim.AdamW and DeepSpeed's FusedAdam with
 * adam_w_mode true (DeepSpeed's default for type "Adam" too).
 */
export class AdamW extends Adam {
  protected override get decoupled(): boolean {
    return true;
  }
}
