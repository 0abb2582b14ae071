/** The channel formats by name (issue 17). */
import type { ChannelFormat } from '../../config/types.js';
import { discord } from './discord.js';
import { gotify } from './gotify.js';
import { matrix } from './matrix.js';
import { ntfy } from './ntfy.js';
import { pagerduty } from './pagerduty.js';
import { teams } from './teams.js';
import { telegram } from './telegram.js';
import type { ChannelFormatter } from './types.js';

export const FORMATTERS: Readonly<Record<ChannelFormat, ChannelFormatter>> = { ntfy, gotify, discord, teams, telegram, matrix, pagerduty };
export type { ChannelFormatter, ChannelPayload, FormatInput, HttpRequest, RenderedPart } from './types.js';
