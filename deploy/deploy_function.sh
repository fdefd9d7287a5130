#!/usr/bin/env bash
# Deploys one function (2nd gen) with the settings every function shares; trigger flags come after the entry point.
#   deploy/deploy_function.sh ENTRY_POINT [gcloud functions deploy flags...]
# Reads REGION, RUNTIME, PROJECT_ID, ALERT_CONFIG, TWILIO_FROM_NUMBER, SENDGRID_FROM_EMAIL from the environment.
set -euo pipefail
entry_point=$1; shift
name=${entry_point//_/-}  # 2nd gen functions are Cloud Run services: no underscores in names

gcloud functions deploy "$name" --gen2 --runtime="$RUNTIME" --region="$REGION" --source=. \
  --entry-point="$entry_point" \
  --env-vars-file=config/env.production.yaml \
  --set-env-vars="PUBLIC_BASE_URL=https://${REGION}-${PROJECT_ID}.cloudfunctions.net,TWILIO_FROM_NUMBER=${TWILIO_FROM_NUMBER},SENDGRID_FROM_EMAIL=${SENDGRID_FROM_EMAIL},ALERT_CONFIG=${ALERT_CONFIG}" \
  --set-secrets="TWILIO_ACCOUNT_SID=twilio-account-sid:latest,TWILIO_AUTH_TOKEN=twilio-auth-token:latest,SENDGRID_API_KEY=sendgrid-api-key:latest,SENDGRID_WEBHOOK_PUBLIC_KEY=sendgrid-webhook-public-key:latest,LINK_SIGNING_KEY=link-signing-key:latest" \
  "$@"
