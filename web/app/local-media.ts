// Camera and microphone for the call. A call without them still works (receive only,
// chat), so failure is a notice for the user, not an error.

export interface LocalMedia {
  stream: MediaStream | null;
  /** Why there is no (or partial) media; null when camera and mic both work. */
  notice: string | null;
}

export async function getLocalMedia(): Promise<LocalMedia> {
  const devices = navigator.mediaDevices;
  if (devices?.getUserMedia === undefined) {
    return {
      stream: null,
      notice: 'This browser gives no camera or microphone here: joining without media.',
    };
  }
  try {
    const stream = await devices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    return { stream, notice: null };
  } catch (error) {
    const reason = error instanceof Error ? error.name : 'unknown error';
    return { stream: null, notice: `Camera/microphone unavailable (${reason}): joining without media.` };
  }
}

export function stopMedia(stream: MediaStream | null): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
