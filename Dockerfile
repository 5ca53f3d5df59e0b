# zkvault as a container: `docker build -t zkvault .`, then `docker run --rm zkvault --help`.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Only the CLI's sources: tests and benchmarks stay out of the image.
RUN printf '{"extends":"./tsconfig.json","include":["src"]}\n' > tsconfig.image.json \
 && npx tsc -p tsconfig.image.json \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /opt/zkvault
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY bin ./bin
# The default repository (./zkvault-repo) lands in /work, which the unprivileged user owns.
RUN mkdir /work && chown node:node /work
USER node
WORKDIR /work
ENTRYPOINT ["node", "/opt/zkvault/bin/zkvault"]
CMD ["--help"]
