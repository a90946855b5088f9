# One image for every Usher process: `usher broker`, `usher media`, `usher stack`.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install -g npm@11 && npm ci --no-audit --no-fund
COPY . .
RUN node node_modules/vite/bin/vite.js build --logLevel warn
ENV NODE_ENV=production
USER node
ENTRYPOINT ["node", "bin/usher.mjs"]
CMD ["--help"]
