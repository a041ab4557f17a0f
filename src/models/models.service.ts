import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/principal';
import { PricingService } from '../billing/pricing.service';
import { ApiError } from '../common/api-error';
import { HostsService } from '../hosts/hosts.service';

export interface ModelInfo {
  id: string;
  capabilities: ('chat' | 'completion' | 'embedding' | 'vision')[];
}

/** Model catalogue: a model is offered when it has a rate and a healthy host serves it. */
@Injectable()
export class ModelsService {
  /** Created time reported by /v1/models (stable: the platform's epoch, not per request). */
  static readonly CREATED = 1710000000;

  constructor(
    private readonly pricing: PricingService,
    private readonly hosts: HostsService,
  ) {}

  /** The key may use the model, and the model has a price. Throws the matching ApiError. */
  async assertUsable(model: string, principal: Principal): Promise<void> {
    if (principal.allowedModels.length > 0 && !principal.allowedModels.includes(model)) {
      throw new ApiError('model_not_allowed', `This API key may not use the model '${model}'`, 'model');
    }
    if (!this.pricing.hasRate(model)) {
      throw new ApiError('model_pricing_not_found', `The model '${model}' does not exist`, 'model');
    }
  }

  /** Models with a rate and at least one healthy host, visible to this key. */
  async list(principal: Principal): Promise<ModelInfo[]> {
    const served = new Set(this.hosts.servedModels());
    const rates = this.pricing.listRates();
    return rates
      .map((r) => r.model)
      .filter((m) => served.has(m))
      .filter((m) => principal.allowedModels.length === 0 || principal.allowedModels.includes(m))
      .sort()
      .map((id) => ({ id, capabilities: capabilitiesOf(id) }));
  }

  async get(id: string, principal: Principal): Promise<ModelInfo> {
    const model = (await this.list(principal)).find((m) => m.id === id);
    if (!model) throw new ApiError('model_not_found', `The model '${id}' does not exist`, 'model');
    return model;
  }
}

/** Capabilities from the model's family name (Ollama naming); embeddings and vision by convention. */
export function capabilitiesOf(model: string): ModelInfo['capabilities'] {
  const name = model.toLowerCase();
  if (/embed|bge|e5-|minilm/.test(name)) return ['embedding'];
  const caps: ModelInfo['capabilities'] = ['chat', 'completion'];
  if (/llava|vision|bakllava|moondream|-vl\b|minicpm-v/.test(name)) caps.push('vision');
  return caps;
}
