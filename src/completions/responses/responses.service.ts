import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '../../auth/principal';
import { ApiError } from '../../common/api-error';
import type { ChatMessage } from '../completion.types';
import { invalid } from '../request-validation';
import { type OutputItem, outputMessage } from './responses-format';
import { assemble, type ParsedResponses } from './responses-request';
import { ResponsesStore } from './responses.store';

/** The conversation a request continues, and what to store of its answer. */
export interface Conversation {
  /** Without the instructions: they are not carried to the next response (as OpenAI does). */
  messages: ChatMessage[];
}

/**
 * What the Responses dialect adds to the core: the conversation a request continues
 * (`previous_response_id`, `item_reference`), and the answer stored for the next one.
 */
@Injectable()
export class ResponsesService {
  private readonly logger = new Logger(ResponsesService.name);

  constructor(private readonly store: ResponsesStore) {}

  /** Fills in the request's messages; a reference this user cannot read is a 400 before anything is billed. */
  async resolve(parsed: ParsedResponses, principal: Principal): Promise<Conversation> {
    const previous = parsed.previousResponseId
      ? await this.store.conversation(principal.userId, parsed.previousResponseId)
      : [];
    if (!previous) {
      throw invalid(
        'previous_response_id',
        `Previous response with id '${parsed.previousResponseId}' not found.`,
      );
    }
    const references = parsed.input.flatMap((e) => ('reference' in e ? [e.reference] : []));
    const stored = await this.store.items(principal.userId, references);
    const messages = [...previous, ...assemble(parsed.input, stored)];
    if (!messages.some((m) => m.role !== 'system'))
      throw invalid('input', 'expected at least one input item');
    parsed.request.messages = parsed.instructions
      ? [{ role: 'system', content: parsed.instructions }, ...messages]
      : messages;
    return { messages };
  }

  /** Stores an answered response (unless store: false); a failure is logged, the answer stands. */
  async save(
    parsed: ParsedResponses,
    principal: Principal,
    conversation: Conversation,
    body: { id: string; model: string; output: OutputItem[] },
  ): Promise<void> {
    if (!parsed.store) return;
    const answer = outputMessage(body.output);
    try {
      await this.store.save({
        id: body.id,
        userId: principal.userId,
        model: body.model,
        body,
        conversation: [...conversation.messages, answer],
        items: body.output.map((item) => ({ id: item.id, message: outputMessage([item]) })),
      });
    } catch (error) {
      this.logger.error(
        `storing response ${body.id} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async get(principal: Principal, id: string): Promise<object> {
    const body = await this.store.body(principal.userId, id);
    if (!body) throw notFound(id);
    return body;
  }

  async delete(principal: Principal, id: string): Promise<object> {
    if (!(await this.store.delete(principal.userId, id))) throw notFound(id);
    return { id, object: 'response.deleted', deleted: true };
  }
}

function notFound(id: string): ApiError {
  return new ApiError('not_found', `No response found with id '${id}'.`, 'response_id', 404);
}
