import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { ChatMessageLike, creditsFor, estimateFor, ModelRate, TokenUsage, ToolLike } from './pricing';
import { RateBook, RateRecord } from './rate-book';

/** Prices requests at the models' rates (held in memory by RateBook: no query per request). */
@Injectable()
export class PricingService {
  constructor(private readonly rates: RateBook) {}

  /** Upper bound of a request (seed 000): user characters in, max_tokens out, rounded up. */
  estimate(
    model: string,
    messages: readonly ChatMessageLike[],
    maxTokens: number,
    tools?: readonly ToolLike[],
  ): bigint {
    return estimateFor(this.rateOf(model), messages, maxTokens, tools);
  }

  /** Cost of actual usage at the current rates, rounded up to a whole credit. */
  cost(model: string, usage: TokenUsage): bigint {
    return creditsFor(this.rateOf(model), usage.inputTokens, usage.outputTokens);
  }

  /** The model's rates now; 404 model_pricing_not_found when it has none. */
  rateOf(model: string): ModelRate {
    const rate = this.rates.get(model);
    if (!rate) throw new ApiError('model_pricing_not_found');
    return rate;
  }

  hasRate(model: string): boolean {
    return this.rates.get(model) !== undefined;
  }

  listRates(): RateRecord[] {
    return this.rates.list();
  }

  /** Creates or replaces a model's rates; decimal text, validated by the caller. */
  setRate(model: string, inputRate: string, outputRate: string): Promise<RateRecord> {
    return this.rates.set(model, inputRate, outputRate);
  }
}
