// SPDX-License-Identifier: MIT
// In a browser the photo goes into the multipart body as a Blob.
export async function photoPart(p: { mime: string; base64: string }): Promise<Blob> {
  const bin = atob(p.base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: p.mime });
}
