/** Notification priorities, lowest first, and their order. Routing compares ranks. */
import { Schema } from "effect"

export const priorities = ["low", "normal", "high", "urgent"] as const

export const Priority = Schema.Literal(...priorities)
export type Priority = typeof Priority.Type

export const priorityRank = (p: Priority): number => priorities.indexOf(p)
