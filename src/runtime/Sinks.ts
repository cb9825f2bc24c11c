/** The sink implementations this process has, by sink type (composed in src/layers/Sinks.ts). Which named sinks exist is the settings'. */
import { Context } from "effect"
import type { SinkType } from "../domain/Settings.js"
import type { Sink } from "../domain/Sink.js"

export class Sinks extends Context.Tag("herald/Sinks")<Sinks, ReadonlyMap<SinkType, Sink>>() {}
