import { createRequire } from 'node:module';

/** Contribution point for logging; library users rebind it. */
export const Logger = Symbol.for('builder.Logger');

export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type WinstonLike = {
  log(level: string, message: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): WinstonLike;
};

/**
 * The default Logger: winston, writing every level to stderr. winston is loaded on the first
 * message that passes the level (it costs ≈ 45 ms to load, and a quiet run logs nothing).
 */
export class WinstonLogger implements Logger {
  private impl?: WinstonLike;

  constructor(
    private readonly level: LogLevel = 'warn',
    private readonly meta: Record<string, unknown> = {},
    private readonly parent?: WinstonLogger,
  ) {}

  private enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(this.level);
  }

  private winston(): WinstonLike {
    if (this.impl) return this.impl;
    if (this.parent) {
      this.impl = this.parent.winston().child(this.meta);
      return this.impl;
    }
    const winston = createRequire(import.meta.url)('winston') as typeof import('winston');
    const { combine, timestamp, printf } = winston.format;
    this.impl = winston.createLogger({
      level: this.level,
      format: combine(
        timestamp(),
        printf(({ level, message, timestamp: ts, ...rest }) => {
          const fields = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          return `${ts} ${level.toUpperCase()} ${message}${fields ? ` ${fields}` : ''}`;
        }),
      ),
      defaultMeta: this.meta,
      transports: [new winston.transports.Console({ stderrLevels: [...LOG_LEVELS] })],
    }) as unknown as WinstonLike;
    return this.impl;
  }

  private write(level: LogLevel, message: string, meta?: Record<string, unknown>): void {
    if (this.enabled(level)) this.winston().log(level, message, meta);
  }

  error(message: string, meta?: Record<string, unknown>): void {
    this.write('error', message, meta);
  }
  warn(message: string, meta?: Record<string, unknown>): void {
    this.write('warn', message, meta);
  }
  info(message: string, meta?: Record<string, unknown>): void {
    this.write('info', message, meta);
  }
  debug(message: string, meta?: Record<string, unknown>): void {
    this.write('debug', message, meta);
  }
  child(meta: Record<string, unknown>): Logger {
    return new WinstonLogger(this.level, meta, this);
  }
}
