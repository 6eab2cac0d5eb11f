/**
 * Jest's setup for the API and end-to-end tiers (jest.config.js): the contract tier checks every
 * fetch() to a local server that serves the API's document (test/helpers/contract.ts; app.inject
 * is checked by the API harness), and a survey run (CONTRACT_REPORT) gets each file's counts.
 */
import { checkFetchedContract, reportContractLedger } from './contract';

checkFetchedContract();
afterAll(() => reportContractLedger());
