/**
 * The stream the probe puts between the TCP socket and node:tls, so that the server's handshake
 * flight can be read as sent (getPeerCertificate only shows Node's reconstruction of the chain).
 */
import type net from 'node:net';
import { Duplex } from 'node:stream';

/**
 * Passes bytes between the TCP socket and node:tls unchanged, showing every server byte to
 * `inspect` first. When `inspect` returns false the bytes are dropped: the probe is tearing down.
 */
export class RecordingDuplex extends Duplex {
  private readonly raw: net.Socket;
  private readonly inspect: (chunk: Buffer) => boolean;

  constructor(raw: net.Socket, inspect: (chunk: Buffer) => boolean) {
    super();
    this.raw = raw;
    this.inspect = inspect;
    raw.on('data', this.onData);
    raw.on('end', this.onEnd);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (!this.inspect(chunk)) return;
    if (!this.push(chunk)) this.raw.pause();
  };

  private readonly onEnd = (): void => {
    this.push(null);
  };

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.raw.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.raw.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.raw.off('data', this.onData);
    this.raw.off('end', this.onEnd);
    this.raw.destroy();
    callback(error);
  }
}
