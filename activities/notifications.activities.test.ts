import { TypedActivityEnvironment } from '../test/helpers/activity-environment';
import { useServiceDatabase } from '../test/helpers/databases';
import { createNotificationsDb } from '../services/notifications/db';
import { NotificationsService } from '../services/notifications/notifications.service';
import { TASK_QUEUES, notifySignal, type NotifyInput } from '../workflows/contract';
import type { NotificationSignaller } from '../temporal/notification-signal';
import { createNotificationActivities } from './notifications.activities';

let notifications: NotificationsService;
useServiceDatabase('notifications', createNotificationsDb, (db) => {
  notifications = new NotificationsService(db);
});

function fakeTemporal(): {
  temporal: NotificationSignaller;
  calls: { workflowType: unknown; options: Record<string, unknown> }[];
} {
  const calls: { workflowType: unknown; options: Record<string, unknown> }[] = [];
  const signalWithStart = async (workflowType: unknown, options: Record<string, unknown>) => {
    calls.push({ workflowType, options });
    return {};
  };
  return { temporal: { workflow: { signalWithStart } } as unknown as NotificationSignaller, calls };
}

const orderPaid: NotifyInput = {
  userId: 'ivy',
  kind: 'ORDER',
  type: 'order.status',
  payload: { orderId: 'o-1', status: 'PAID' },
  dedupeKey: 'order:o-1:PAID',
};

test('persistNotification stores once per dedupe key and returns the sequence', async () => {
  const { temporal } = fakeTemporal();
  const { persistNotification } = createNotificationActivities({ notifications, temporal });
  const env = new TypedActivityEnvironment();

  expect(await env.run(persistNotification, orderPaid)).toEqual({ id: expect.any(String), sequence: 1, created: true });
  const again = await env.run(persistNotification, orderPaid);
  expect(again).toMatchObject({ sequence: 1, created: false });
  expect(await env.run(persistNotification, { ...orderPaid, dedupeKey: 'order:o-1:COMPLETED' })).toMatchObject({
    sequence: 2,
    created: true,
  });
  expect(await notifications.list('ivy')).toHaveLength(2);
});

test("notifyUser signal-with-starts the user's notification workflow, once per call", async () => {
  const { temporal, calls } = fakeTemporal();
  const { notifyUser } = createNotificationActivities({ notifications, temporal });
  const env = new TypedActivityEnvironment();

  expect(await env.run(notifyUser, orderPaid)).toEqual({ workflowId: 'notifications-ivy' });
  expect(calls).toEqual([
    {
      workflowType: 'notificationWorkflow',
      options: {
        workflowId: 'notifications-ivy',
        taskQueue: TASK_QUEUES.checkout,
        args: [{ userId: 'ivy' }],
        signal: notifySignal,
        signalArgs: [orderPaid],
      },
    },
  ]);
});
