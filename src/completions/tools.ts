import type { ToolChoice, ToolDefinition } from './completion.types';
import { invalid, isObject } from './request-validation';

/** OpenAI's limit on tools per request. */
export const MAX_TOOLS = 128;
/** OpenAI's rule for function names. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The rules every surface applies to tool definitions once they are read from its wire format
 * (`param` names the field on that wire): a bounded list of uniquely named functions whose
 * parameters, when given, are a JSON-schema object.
 */
export function checkTools(tools: ToolDefinition[], param: string): ToolDefinition[] {
  if (tools.length > MAX_TOOLS) throw invalid(param, `expected at most ${MAX_TOOLS} tools`);
  const names = new Set<string>();
  tools.forEach((tool, i) => {
    if (!TOOL_NAME.test(tool.name)) {
      throw invalid(
        `${param}[${i}].function.name`,
        'expected 1 to 64 letters, digits, underscores or dashes',
      );
    }
    if (names.has(tool.name))
      throw invalid(`${param}[${i}].function.name`, `'${tool.name}' is defined twice`);
    names.add(tool.name);
    if (tool.parameters !== undefined && !isObject(tool.parameters)) {
      throw invalid(`${param}[${i}].function.parameters`, 'expected a JSON schema object');
    }
  });
  return tools;
}

/** A choice must name a defined tool, and needs tools unless it is 'none' or 'auto'. */
export function checkToolChoice(
  choice: ToolChoice,
  tools: ToolDefinition[] | undefined,
  param: string,
): void {
  if (!tools?.length && (choice === 'required' || typeof choice === 'object')) {
    throw invalid(param, "is only allowed when 'tools' are specified");
  }
  if (typeof choice === 'object' && !tools?.some((t) => t.name === choice.name)) {
    throw invalid(param, `names the function '${choice.name}', which is not in 'tools'`);
  }
}

/** The tools a model is shown for a choice: none for 'none', only the named one for a named choice. */
export function offeredTools(tools: ToolDefinition[] | undefined, choice: ToolChoice | undefined) {
  if (!tools?.length || choice === 'none') return undefined;
  if (typeof choice === 'object') return tools.filter((t) => t.name === choice.name);
  return tools;
}

/**
 * A tool call's JSON-text arguments as the object Ollama and Anthropic carry; text that is not a
 * JSON object (a model can write anything) becomes {}.
 */
export function argumentsObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}
