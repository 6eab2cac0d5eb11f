import { isPaymentMethodId, MAX_PAYMENT_METHOD_ID_LENGTH } from './payment-methods';

test('a Stripe PaymentMethod id is pm_ and letters, digits or underscores, at most 255 characters', () => {
  for (const id of ['pm_card_visa', 'pm_card_chargeDeclinedInsufficientFunds', 'pm_1Q0PsIJvEtkwdCNYMSaVuRz6'])
    expect(isPaymentMethodId(id)).toBe(true);
  expect(isPaymentMethodId(`pm_${'a'.repeat(MAX_PAYMENT_METHOD_ID_LENGTH - 3)}`)).toBe(true);
  for (const other of [
    '4242424242424242',
    'pm_',
    'pm_card visa',
    'pm_card_visa\n',
    'pm_card_visa\0',
    'pm_card-visa',
    'PM_card_visa',
    'card_1234',
    `pm_${'a'.repeat(MAX_PAYMENT_METHOD_ID_LENGTH - 2)}`,
    42,
    null,
  ])
    expect(isPaymentMethodId(other)).toBe(false);
});
