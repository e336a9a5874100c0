import { describe, expect, it } from 'vitest';
import { createTestBus } from '../../src/testing/index.js';

describe('dispatchbox/testing', () => {
  it('shows what application code sent and runs the handlers', async () => {
    const t = await createTestBus();
    const placeOrder = (id: number) => t.bus.send('orders', 'Place', { id });
    await placeOrder(1);
    await placeOrder(2);
    expect((await t.sent({ type: 'Place' })).map((c) => c.data)).toEqual([{ id: 1 }, { id: 2 }]);
    t.bus.handle('orders', 'Place', async (data: { id: number }, ctx) => {
      await ctx.send('mail', 'Confirm', { order: data.id });
    });
    t.bus.handle('mail', 'Confirm', () => 'sent');
    await t.runUntilIdle();
    expect((await t.sent({ domain: 'mail', state: 'completed' })).length).toBe(2);
    await t.close();
  });
});
